"""History.plot(): one panel per metric, training and validation on one axis, saved as PNG."""

from __future__ import annotations

import sys

import pytest

import kerasish as ks

from helpers import classification_data, mlp


def fitted_history(**fit_kwargs) -> ks.callbacks.History:
    x, y = classification_data()
    model = ks.Model(mlp(), device="cpu").compile("adam", "cross_entropy", metrics=["accuracy"])
    return model.fit(x, y, batch_size=32, verbose=0, **fit_kwargs)


def lines_of(axis) -> dict[str, tuple[list, list]]:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in axis.lines}


def test_each_metric_gets_a_panel_with_training_and_validation_against_the_epoch(tmp_path):
    history = fitted_history(epochs=3, validation_split=0.25)
    figure = history.plot()
    assert [axis.get_title() for axis in figure.axes] == ["loss", "accuracy"]
    for axis in figure.axes:
        name = axis.get_title()
        lines = lines_of(axis)
        assert set(lines) == {name, f"val_{name}"}
        assert lines[name] == ([1, 2, 3], pytest.approx(history.history[name]))
        assert lines[f"val_{name}"] == ([1, 2, 3], pytest.approx(history.history[f"val_{name}"]))
        assert axis.get_xlabel() == "epoch"
    path = tmp_path / "history.png"
    figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_validation_every_other_epoch_is_drawn_at_the_epochs_it_ran():
    history = fitted_history(epochs=4, validation_split=0.25, validation_freq=2)
    lines = lines_of(history.plot(metrics=["loss"]).axes[0])
    assert lines["val_loss"][0] == [2, 4]
    assert lines["loss"][0] == [1, 2, 3, 4]


def test_chosen_metrics_only_and_unknown_names_are_refused():
    history = fitted_history(epochs=2)
    figure = history.plot(metrics=["accuracy"], figsize=(3, 2))
    assert [axis.get_title() for axis in figure.axes] == ["accuracy"]
    assert tuple(figure.get_size_inches()) == (3, 2)
    assert set(lines_of(figure.axes[0])) == {"accuracy"}  # no validation ran
    with pytest.raises(ValueError, match="recorded"):
        history.plot(metrics=["precision"])


def test_an_empty_history_says_to_fit_first():
    with pytest.raises(ValueError, match="fit"):
        ks.callbacks.History().plot()


def test_learning_rate_logs_get_their_own_panel():
    history = ks.callbacks.History()
    history.history = {"loss": [1.0, 0.5], "learning_rate": [0.1, 0.01]}
    figure = history.plot()
    assert [axis.get_title() for axis in figure.axes] == ["loss", "learning_rate"]


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    history = ks.callbacks.History()
    history.history = {"loss": [1.0]}
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"kerasish\[plot\]"):
        history.plot()
