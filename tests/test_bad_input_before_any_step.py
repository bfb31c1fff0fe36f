"""Bad input of issue 26: one clear error naming the argument and the fix, before any weight changes.

Each case compares every weight (and the optimizer step count) before and after with
``torch.equal``: the error must come before the first optimizer step.
"""

import numpy as np
import pytest
import torch
import torchmetrics

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of


def compiled(metrics=None, optimizer="sgd"):
    return ks.Model(mlp()).compile(optimizer, "cross_entropy", metrics=metrics)


def refused(model, error, match, call="fit", **kwargs):
    before = weights_of(model.module)
    with pytest.raises(error, match=match) as raised:
        getattr(model, call)(verbose=0, **kwargs)
    assert same_weights(before, weights_of(model.module))
    assert model.optimizer_steps == 0
    return raised.value


def test_integer_x_into_a_float_module_names_x_and_the_fix():
    x, y = classification_data()
    error = refused(compiled(), TypeError, r"x holds int64 values but the module's weights are "
                    r"float32.*x\.astype\('float32'\)", x=x.astype("int64"), y=y)
    assert isinstance(error.__cause__, RuntimeError)  # torch's own message stays as the cause


def test_a_wrong_feature_count_names_x_shape():
    x, y = classification_data()
    refused(compiled(), ValueError, r"cannot take x of shape \(32, 5\).*in_features", x=x[:, :5], y=y)
    refused(compiled(), ValueError, r"cannot take x of shape \(32, 5\)", call="evaluate", x=x[:, :5], y=y)


def test_a_bug_in_the_module_is_not_reworded():
    class Buggy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(8, 3)

        def forward(self, x):
            raise RuntimeError("my own bug")

    x, y = classification_data()
    with pytest.raises(RuntimeError, match="^my own bug$"):
        ks.Model(Buggy()).compile("sgd", "cross_entropy").fit(x, y, verbose=0)


@pytest.mark.parametrize("weights", [{"out": np.ones(120)}, [np.ones(120)]], ids=["dict", "list"])
def test_per_output_sample_weight_for_a_single_output(weights):
    x, y = classification_data()
    refused(compiled(), ValueError, r"sample_weight is a (dict|list) \(one array per output\), but "
            r"the model has a single output", x=x, y=y, sample_weight=weights)


@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_string_sample_weights(call):
    x, y = classification_data()
    refused(compiled(), TypeError, r"sample_weight must hold numbers.*astype\('float32'\)", call=call,
            x=x, y=y, sample_weight=np.array(["1.0"] * 120))


@pytest.mark.parametrize("metric,name", [
    (lambda y_true, y_pred: (y_true.float() - y_pred).mean(), "<lambda>"),
    (torchmetrics.Accuracy(task="binary"), "binary_accuracy"),
], ids=["callable", "torchmetrics"])
def test_a_metric_that_cannot_take_the_targets_is_named(metric, name):
    x, y = classification_data()
    error = refused(compiled(metrics=[metric]), ValueError, rf"metric '{name}' failed on the first "
                    r"batch.*\(32, 3\).*\(32,\)", x=x, y=y)
    assert error.__cause__ is not None


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "2"])
def test_a_class_weight_that_is_not_a_finite_number(bad):
    x, y = classification_data()
    refused(compiled(), ValueError, r"class_weight\[1\] must be a finite number", x=x, y=y,
            class_weight={0: 1.0, 1: bad})


def test_a_checkpoint_path_that_is_a_folder_fails_before_the_first_step(tmp_path):
    x, y = classification_data()
    refused(compiled(), ValueError, r"is an existing folder; give a file path inside it", x=x, y=y,
            epochs=2, callbacks=[ks.callbacks.ModelCheckpoint(tmp_path)])


def test_setting_a_rate_under_a_schedule_raises_as_keras_does():
    schedule = ks.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    model = compiled(optimizer=ks.optimizers.SGD(learning_rate=schedule))
    with pytest.raises(TypeError, match="hence its learning rate is not settable"):
        model.learning_rate = 0.5
    assert model.optimizer.learning_rate_schedule is schedule
    x, y = classification_data()
    refused(model, TypeError, "not settable", x=x, y=y,
            callbacks=[ks.callbacks.LearningRateScheduler(lambda epoch, lr: 0.5)])


def test_keras_refuses_a_rate_under_a_schedule_too(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    optimizer = keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(TypeError, match="hence its learning rate is not settable"):
        optimizer.learning_rate = 0.5


def test_a_torchmetrics_collection_logs_each_member():
    x, y = classification_data()
    collection = torchmetrics.MetricCollection(
        {"acc": torchmetrics.Accuracy(task="multiclass", num_classes=3)}, prefix="tm_")
    model = compiled(metrics=[collection, "accuracy"])
    history = model.fit(x, y, epochs=2, verbose=0, shuffle=False)
    assert history.history["tm_acc"] == pytest.approx(history.history["accuracy"])
    listed = compiled(metrics=[torchmetrics.MetricCollection([torchmetrics.Accuracy(
        task="multiclass", num_classes=3)])])
    assert "multiclass_accuracy" in listed.fit(x, y, verbose=0).history


def test_a_state_file_whose_module_entry_is_a_tensor_changes_nothing(tmp_path):
    model = compiled()
    model.save(tmp_path / "good.pt")
    state = torch.load(tmp_path / "good.pt", weights_only=True)
    state["module"] = torch.zeros(3)
    torch.save(state, tmp_path / "bad.pt")
    target = compiled()
    before = weights_of(target.module)
    with pytest.raises(ValueError, match=r"bad\.pt' is malformed: 'module' must be a state_dict, "
                                         r"found a tensor of shape \(3,\)"):
        target.load_weights(tmp_path / "bad.pt")
    assert same_weights(before, weights_of(target.module))
