"""A user's first day (issue 26): file modes, warnings that name the user's line, what prints."""

from __future__ import annotations

import os
import stat
import warnings

import pytest
import torch
import wandb

import kerasish as ks

from helpers import classification_data, mlp
from wandb_reader import read_run


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_saved_files_follow_the_umask_as_torch_save_does(tmp_path, umask_022):
    x, y = classification_data(n=32)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[
        ks.callbacks.ModelCheckpoint(tmp_path / "ckpt.pt"), ks.callbacks.CSVLogger(tmp_path / "log.csv"),
        ks.callbacks.BackupAndRestore(tmp_path / "backup")])
    model.save(tmp_path / "model.pt")
    model.save_weights(tmp_path / "weights.pt")
    torch.save({}, tmp_path / "torch.pt")
    assert mode(tmp_path / "torch.pt") == 0o644
    for name in ("ckpt.pt", "log.csv", "model.pt", "weights.pt"):
        assert mode(tmp_path / name) == 0o644, name
    os.umask(0o077)
    model.save(tmp_path / "private.pt")
    assert mode(tmp_path / "private.pt") == 0o600




def test_a_callbacks_warning_names_the_users_line():
    x, y = classification_data(n=32)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ks.callbacks.EarlyStopping(monitor="val_acc")])
    missing = [w for w in caught if "conditioned on 'val_acc', which is not in the logs" in str(w.message)]
    assert missing and all(w.filename == __file__ for w in missing), [(w.filename, w.lineno) for w in missing]


def test_nan_in_the_data_warns_at_the_users_fit_line():
    x, y = classification_data(n=32)
    x[0, 0] = float("nan")
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=1, verbose=0)
    nan = [w for w in caught if "NaN" in str(w.message)]
    assert nan and nan[0].filename == __file__


def test_wandb_default_monitor_without_validation_data_gives_no_warning(tmp_path):
    x, y = classification_data(n=32)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(x, y, epochs=2, verbose=0, callbacks=[ks.callbacks.WandbCallback(dir=tmp_path)])
        assert not [str(w.message) for w in caught if "monitor" in str(w.message)]
        assert read_run(tmp_path).exit_code == 0
        with pytest.warns(UserWarning, match="monitor 'val_acc' is not in the logs"):  # a chosen one warns
            model.fit(x, y, epochs=1, verbose=0, callbacks=[
                ks.callbacks.WandbCallback(dir=tmp_path / "second", monitor="val_acc")])
    finally:
        if wandb.run is not None:
            wandb.run.finish()


def test_print_model_shows_the_module_and_what_compile_chose():
    model = ks.Model(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU()))
    assert repr(model) == "Model(\n  Sequential(\n    (0): Linear(in_features=2, out_features=3, bias=True)" \
        "\n    (1): ReLU()\n  )\n)"
    model.compile("adam", "mse")
    assert str(model).endswith("  ),\n  compiled: optimizer=Adam, loss='mse'\n)")


def test_history_plot_is_displayed_by_ipython_without_a_backend():
    pytest.importorskip("matplotlib")
    formatters = pytest.importorskip("IPython.core.formatters")
    x, y = classification_data(n=32)
    history = ks.Model(mlp()).compile("sgd", "cross_entropy").fit(x, y, epochs=2, verbose=0)
    data, _ = formatters.DisplayFormatter().format(history.plot())
    assert data["image/png"].startswith(b"\x89PNG\r\n\x1a\n")
