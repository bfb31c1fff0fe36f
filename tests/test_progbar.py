"""ProgbarLogger: Keras-like lines, one per epoch off a terminal, redrawn on a time budget."""

import io
import re
import sys
import types

import pytest

import kerasish as ks
from kerasish.callbacks import progbar

from helpers import classification_data, mlp


def _fit(verbose, **kwargs):
    x, y = classification_data()
    model = ks.Model(mlp()).compile("adam", "cross_entropy", metrics=["accuracy"])
    return model.fit(x, y, batch_size=10, epochs=3, verbose=verbose, **kwargs)


def test_one_line_per_epoch_when_stdout_is_not_a_terminal(capsys):
    _fit(1, validation_data=classification_data(n=20))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    pattern = (r"Epoch 2/3 - 12/12 - \d+s - \d+(us|ms)/step - loss: \d\.\d{4} - accuracy: \d\.\d{4}"
               r" - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}")
    assert re.fullmatch(pattern, lines[1]), lines[1]


def test_verbose_zero_prints_nothing_and_auto_prints(capsys):
    _fit(0)
    assert capsys.readouterr().out == ""
    _fit("auto")
    assert capsys.readouterr().out.count("Epoch ") == 3


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_bar_is_redrawn_on_a_time_budget_not_per_step(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    clock = iter(range(0, 10_000))
    monkeypatch.setattr(progbar.time, "perf_counter", lambda: next(clock) * 0.01)  # 10 ms a call
    _fit(1)
    out = terminal.getvalue()
    assert out.count("Epoch ") == 3
    assert "━" in out and "12/12" in out
    draws = out.count("\r")
    assert 3 <= draws < 3 * 12  # far fewer redraws than steps, and a final one per epoch


def test_evaluate_prints_a_final_line(capsys):
    x, y = classification_data()
    model = ks.Model(mlp()).compile("adam", "cross_entropy", metrics=["accuracy"])
    model.evaluate(x, y, batch_size=40, verbose=1)
    out = capsys.readouterr().out.strip()
    assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms)/step - loss: \d\.\d{4} - accuracy: \d\.\d{4}", out)


@pytest.mark.parametrize("value, text", [(0.12345, "0.1235"), (1e-5, "1.0000e-05"), (0.0, "0.0000")])
def test_values_are_formatted_like_keras(value, text):
    assert progbar.format_value(value) == text


class JupyterOutput(io.StringIO):
    """Shaped like ipykernel's OutStream: not a terminal, but it renders carriage returns."""


JupyterOutput.__name__ = "OutStream"
JupyterOutput.__module__ = "ipykernel.iostream"


def test_the_bar_is_live_in_a_jupyter_cell_and_per_epoch_in_plain_captured_output(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    cell = JupyterOutput()
    monkeypatch.setattr(sys, "stdout", cell)
    _fit(1)
    out = cell.getvalue()
    assert out.count("\r") >= 3 and "━" in out and out.count("Epoch ") == 3
    captured = io.StringIO()  # the same kernel, output captured elsewhere: one line per epoch
    monkeypatch.setattr(sys, "stdout", captured)
    _fit(1)
    assert "\r" not in captured.getvalue() and len(captured.getvalue().splitlines()) == 3


def test_a_non_zero_rank_draws_no_bar(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")  # as torchrun sets it; no process group is needed to stay quiet
    x, y = classification_data()
    model = ks.Model(mlp()).compile("adam", "cross_entropy")
    model.fit(x, y, batch_size=10, epochs=2, verbose=1)
    model.evaluate(x, y, verbose=1)
    model.predict(x, verbose=1)
    assert capsys.readouterr().out == ""
