"""MonitorCallback: which way auto mode points, min_delta, baseline, and bad modes/monitors."""

import math
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kerasish as ks
from kerasish.callbacks.monitor_callback import MonitorCallback, monitor_direction


@pytest.mark.parametrize("monitor", [
    "loss", "val_loss", "mse", "val_mae", "mean_squared_error", "val_mean_absolute_error",
    "root_mean_squared_error", "binary_crossentropy", "kl_divergence", "val_nll", "loss_1",
    "huber", "hinge", "mape",
])
def test_auto_minimises_losses_and_errors(monitor):
    assert monitor_direction(monitor) == "min"
    assert MonitorCallback(monitor).direction == "min"


@pytest.mark.parametrize("monitor", [
    "accuracy", "val_accuracy", "acc", "val_acc", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "auc", "val_auc", "precision", "recall", "f1_score",
    "val_multiclass_f1_score", "multiclass_accuracy", "mean_iou", "accuracy_2", "r2_score",
    "cosine_similarity",
])
def test_auto_maximises_accuracy_auc_precision_recall_f1(monitor):
    assert monitor_direction(monitor) == "max"
    assert MonitorCallback(monitor).direction == "max"


@pytest.mark.parametrize("monitor", ["val_widgets", "my_metric", "score"])
def test_auto_raises_for_a_monitor_it_cannot_place(monitor):
    with pytest.raises(ValueError, match=r"mode='min'.*mode='max'") as info:
        MonitorCallback(monitor)
    assert repr(monitor) in str(info.value)


def test_explicit_mode_places_any_monitor():
    assert MonitorCallback("my_metric", mode="max").direction == "max"
    assert MonitorCallback("accuracy", mode="min").direction == "min"


def test_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(UserWarning, match=r"mode='maximum' is unknown.*'auto'"):
        cb = ks.callbacks.EarlyStopping(monitor="val_accuracy", mode="maximum")
    assert cb.mode == "auto" and cb.direction == "max"


@pytest.mark.parametrize("monitor", ["", None, 3])
def test_monitor_must_be_a_non_empty_key(monitor):
    with pytest.raises(ValueError, match="monitor must be a non-empty log key"):
        MonitorCallback(monitor)


def test_min_delta_must_be_a_number():
    with pytest.raises(TypeError, match="min_delta must be a number"):
        MonitorCallback("loss", min_delta="0.1")
    with pytest.raises(ValueError, match="min_delta must be a number, not NaN"):
        MonitorCallback("loss", min_delta=float("nan"))


def test_min_delta_sign_is_ignored_and_strict():
    cb = MonitorCallback("loss", min_delta=-0.5)
    assert cb.min_delta == 0.5
    assert cb._is_improvement(1.0, 1.6)
    assert not cb._is_improvement(1.1, 1.6)   # improved by exactly 0.5: not more than min_delta
    assert not cb._is_improvement(1.2, 1.6)
    up = MonitorCallback("accuracy", min_delta=0.1)
    assert up._is_improvement(0.75, 0.6) and not up._is_improvement(0.65, 0.6)


def test_baseline_is_the_first_best():
    assert MonitorCallback("loss", baseline=0.3).best == 0.3
    assert MonitorCallback("loss").best is None


def test_nan_is_never_an_improvement():
    cb = MonitorCallback("loss")
    assert not cb._is_improvement(math.nan, None)
    assert not cb._is_improvement(math.nan, 1.0)


# No subnormals: some torch builds (2.4's wheel) switch them off for the process, and Hypothesis
# then refuses to draw them; they are not what these properties are about.
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)


@given(finite, finite, st.floats(0, 10, allow_subnormal=False))
def test_min_and_max_modes_are_mirror_images(a, b, delta):
    with warnings.catch_warnings():
        down = MonitorCallback("x", mode="min", min_delta=delta)
        up = MonitorCallback("x", mode="max", min_delta=delta)
    assert down._is_improvement(a, b) == up._is_improvement(-a, -b)
    assert not (down._is_improvement(a, b) and down._is_improvement(b, a))
