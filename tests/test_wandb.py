"""WandbCallback, checked from the offline run file W&B writes (``tests/wandb_reader.py``)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch
import wandb

import kerasish as ks

from helpers import Crash, classification_data, mlp
from wandb_reader import read_run, read_runs

PARAMS = ("0.weight", "0.bias", "2.weight", "2.bias")  # mlp()'s parameters


# Runs are offline (conftest sets WANDB_MODE). Each test names its directory with dir=: W&B reads
# WANDB_DIR once per process, so setting it per test would not move later runs.


@pytest.fixture
def wandb_dir(tmp_path):
    yield tmp_path
    if wandb.run is not None:  # a failing test must not leave its run to the next one
        wandb.run.finish()


def compiled(lr=0.01):
    net = mlp()
    return ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=lr),
                                               "cross_entropy", metrics=["accuracy"])


class Recorder(ks.callbacks.Callback):
    """The running batch logs and each gradient's (min, max) at each global batch (1-based)."""

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.logs: dict[int, dict[str, float]] = {}
        self.grad_ranges: dict[int, dict[str, tuple[float, float]]] = {}

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        self.logs[self.seen] = dict(logs)
        self.grad_ranges[self.seen] = {n: (p.grad.min().item(), p.grad.max().item())
                                       for n, p in self.model.module.named_parameters()}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One fit with every option on (W&B runs take a second each, so the tests share it)."""
    directory = tmp_path_factory.mktemp("wandb")
    torch.manual_seed(0)
    x, y = classification_data(n=128)  # 96 train samples: 6 batches of 16 per epoch
    model = compiled()
    recorder = Recorder()
    callback = ks.callbacks.WandbCallback(project="kerasish-tests", name="full", tags=["t"],
                                          config={"hidden": 16}, log_freq=4, watch="all",
                                          watch_freq=5, save_model=True, dir=str(directory))
    history = model.fit(x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[callback, recorder])
    return read_run(directory), history, recorder, model


def test_config_holds_the_users_keys_and_the_compile_and_fit_settings(full_run):
    run, _, _, model = full_run
    assert run.config["hidden"] == 16
    assert run.config["optimizer"] == "SGD"
    assert run.config["learning_rate"] == pytest.approx(0.01)
    assert run.config["loss"] == "cross_entropy"
    assert run.config["metrics"] == ["accuracy"]
    assert run.config["batch_size"] == 16
    assert run.config["epochs"] == 3
    assert run.config["precision"] == "float32"
    assert run.config["num_parameters"] == sum(p.numel() for p in model.module.parameters())


def test_epoch_rows_equal_history_with_epoch_as_their_x_axis(full_run):
    run, history, _, _ = full_run
    rows = run.rows_with("epoch")
    assert [row["epoch"] for row in rows] == [0, 1, 2]
    for key, values in history.history.items():
        assert [row[key] for row in rows] == pytest.approx(values)
    assert [row["learning_rate"] for row in rows] == pytest.approx([0.01] * 3)
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"):
        assert run.metrics[key]["step_metric"] == "epoch"
    assert run.metrics["batch/*"] == {"step_metric": "batch/step", "glob": True}


def test_batch_rows_every_log_freq_batches_hold_the_running_values(full_run):
    run, _, recorder, _ = full_run
    rows = [row for row in run.history if "batch/loss" in row]
    assert [row["batch/step"] for row in rows] == [4, 8, 12, 16]  # 18 batches in all
    for row in rows:
        logs = recorder.logs[row["batch/step"]]
        assert row["batch/loss"] == pytest.approx(logs["loss"])
        assert row["batch/accuracy"] == pytest.approx(logs["accuracy"])
        assert row["batch/learning_rate"] == pytest.approx(0.01)


def test_histograms_of_parameters_and_gradients_every_watch_freq_batches(full_run):
    run, _, recorder, _ = full_run
    rows = run.rows_with("gradients/0.weight")
    assert [row["batch/step"] for row in rows] == [5, 10, 15]
    for row in rows:
        for name in PARAMS:
            for kind in ("gradients", "parameters"):
                histogram = row[f"{kind}/{name}"]
                assert histogram["_type"] == "histogram"
                assert len(histogram["bins"]) == len(histogram["values"]) + 1
        counts = row["gradients/2.bias"]["values"]
        assert sum(counts) == 3  # one count per element of the 3-element bias
        for name in PARAMS:  # the histogram is of that batch's gradient: its bins span its range
            bins = row[f"gradients/{name}"]["bins"]
            low, high = recorder.grad_ranges[row["batch/step"]][name]
            assert (bins[0], bins[-1]) == pytest.approx((low, high), abs=1e-6)
    assert not run.rows_with("gradients/0.weight")[0].keys() & {"epoch"}


def test_summary_holds_the_best_monitored_value_and_its_epoch(full_run):
    run, history, _, _ = full_run
    val_loss = history.history["val_loss"]
    best_epoch = min(range(len(val_loss)), key=val_loss.__getitem__)
    assert run.summary["best_val_loss"] == pytest.approx(val_loss[best_epoch])
    assert run.summary["best_epoch"] == best_epoch


def test_an_accuracy_monitor_keeps_the_highest_value(wandb_dir):
    x, y = classification_data()
    history = compiled(lr=0.05).fit(
        x, y, batch_size=16, epochs=4, validation_split=0.25, verbose=0,
        callbacks=[ks.callbacks.WandbCallback(monitor="val_accuracy", dir=wandb_dir)])
    values = history.history["val_accuracy"]
    best_epoch = max(range(len(values)), key=lambda e: (values[e], -e))  # the first of the best
    summary = read_run(wandb_dir).summary
    assert summary["best_val_accuracy"] == pytest.approx(values[best_epoch])
    assert summary["best_epoch"] == best_epoch


def test_final_weights_are_logged_as_a_model_artifact_when_no_checkpoint_ran(full_run):
    run, history, _, model = full_run
    (artifact,) = run.artifacts
    assert artifact.type == "model"
    assert sorted(artifact.aliases) == ["epoch_3", "latest"]
    (entry,) = artifact.manifest.contents
    saved = torch.load(Path(entry.local_path), weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.module.state_dict().items())


def test_steps_strictly_increase_and_the_run_exits_cleanly(full_run):
    run, _, _, _ = full_run
    steps = [row["_step"] for row in run.history]
    assert steps == sorted(set(steps)) and steps == list(range(len(steps)))
    assert run.exit_code == 0


def test_a_users_run_is_used_kept_open_and_its_config_wins(wandb_dir):
    x, y = classification_data()
    run = wandb.init(project="kerasish-tests", config={"learning_rate": 0.5}, dir=wandb_dir)
    with pytest.warns(UserWarning, match=r"learning_rate=0.5, but training uses learning_rate=0.01"):
        compiled().fit(x, y, batch_size=32, epochs=2, verbose=0,
                       callbacks=[ks.callbacks.WandbCallback(config={"note": "from callback"})])
    assert wandb.run is run  # not finished by the callback
    run.log({"test_accuracy": 0.75})  # the user goes on logging after fit
    run.finish()
    logged = read_run(wandb_dir)
    assert [row["epoch"] for row in logged.rows_with("epoch")] == [0, 1]
    assert logged.rows_with("test_accuracy")[0]["_step"] > logged.rows_with("epoch")[-1]["_step"]
    assert logged.config["learning_rate"] == 0.5  # the user's (or a sweep's) value is kept
    assert logged.config["note"] == "from callback"
    assert logged.config["optimizer"] == "SGD"


def test_run_argument_logs_there_and_two_fits_continue_the_batch_step(wandb_dir):
    x, y = classification_data(n=64)
    run = wandb.init(project="kerasish-tests", dir=wandb_dir)
    callback = ks.callbacks.WandbCallback(run=run, log_freq="batch")
    model = compiled()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    run.finish()
    logged = read_run(wandb_dir)
    assert [row["batch/step"] for row in logged.rows_with("batch/loss")] == [1, 2, 3, 4]
    assert len(logged.rows_with("epoch")) == 2


def epoch_aliases(artifact) -> list[str]:
    return [alias for alias in artifact.aliases if alias.startswith("epoch_")]


def test_each_file_a_model_checkpoint_writes_is_logged_as_it_is_written(wandb_dir, tmp_path):
    x, y = classification_data()
    checkpoint = ks.callbacks.ModelCheckpoint(str(tmp_path / "e{epoch:02d}-{val_loss:.3f}.pt"),
                                              monitor="val_accuracy", save_best_only=True,
                                              save_weights_only=True)
    compiled().fit(x, y, batch_size=32, epochs=3, validation_split=0.25, verbose=0,
                   callbacks=[ks.callbacks.WandbCallback(save_model=checkpoint, dir=wandb_dir),
                              checkpoint])
    run = read_run(wandb_dir)
    saved = [Path(f.path).name for f in checkpoint.saved]
    assert saved and [a.manifest.contents[0].path for a in run.artifacts] == saved
    assert [epoch_aliases(a) for a in run.artifacts] == [[f"epoch_{f.epoch + 1}"] for f in checkpoint.saved]
    assert "latest" in run.artifacts[-1].aliases
    assert {(a.type, a.name) for a in run.artifacts} == {("model", run.artifacts[0].name)}
    # logged during training: the first artifact comes before the last epoch's row
    kinds = [k for k in run.kinds if k in ("artifact", "history")]
    assert kinds.index("artifact") < len(kinds) - 1 - kinds[::-1].index("history")


def test_save_model_refuses_what_is_not_a_model_checkpoint():
    with pytest.raises(TypeError, match="ModelCheckpoint"):
        ks.callbacks.WandbCallback(save_model="ckpt/{epoch}.pt")


def test_a_wandb_failure_mid_training_warns_once_and_training_completes(wandb_dir, monkeypatch):
    calls = []
    real_log = wandb.sdk.wandb_run.Run.log

    def failing_log(self, data, *args, **kwargs):
        calls.append(data)
        if len(calls) >= 3:
            raise ConnectionError("W&B went away")
        return real_log(self, data, *args, **kwargs)

    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "log", failing_log)
    x, y = classification_data(n=64)
    model = compiled()
    before = [p.detach().clone() for p in model.module.parameters()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=16, epochs=4, verbose=0,
                            callbacks=[ks.callbacks.WandbCallback(log_freq=1, dir=wandb_dir)])
    ours = [w for w in caught if "WandbCallback" in str(w.message)]
    assert len(ours) == 1 and "W&B went away" in str(ours[0].message)
    assert len(calls) == 3  # nothing more was attempted after the failure
    assert len(history.history["loss"]) == 4
    assert any(not torch.equal(a, b) for a, b in zip(before, model.module.parameters()))


def test_a_run_finished_by_someone_else_mid_training_warns_once(wandb_dir):
    class FinishesTheRun(ks.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                wandb.run.finish()

    x, y = classification_data(n=64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        callback = ks.callbacks.WandbCallback(log_freq=2, dir=wandb_dir)
        history = compiled().fit(x, y, batch_size=16, epochs=3, verbose=0,
                                 callbacks=[callback, FinishesTheRun()])
    ours = [w for w in caught if "WandbCallback stopped logging" in str(w.message)]
    assert len(ours) == 1
    assert len(history.history["loss"]) == 3
    assert [row["epoch"] for row in read_run(wandb_dir).rows_with("epoch")] == [0]


@pytest.mark.parametrize("bad", [{"log_freq": "sometimes"}, {"log_freq": 0}, {"watch": "weights"},
                                 {"watch_freq": 0}])
def test_bad_arguments_are_refused_with_the_allowed_values(bad):
    with pytest.raises(ValueError):
        ks.callbacks.WandbCallback(**bad)


def test_without_wandb_installed_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match=r"kerasish\[wandb\]"):
        ks.callbacks.WandbCallback()


# ---------------------------------------------------------------------------- runs across fits



def batch_steps(run) -> list[int]:
    return [row["batch/step"] for row in run.rows_with("batch/loss")]


def test_run_is_finished_follows_wandbs_run_state(wandb_dir):
    # kerasish reads W&B's private Run._is_finished in one place; this fails if wandb changes it.
    from kerasish.callbacks.wandb import run_is_finished

    run = wandb.init(project="kerasish-tests", dir=wandb_dir)
    assert hasattr(run, "_is_finished") and run_is_finished(run) is False
    run.finish()
    assert run_is_finished(run) is True


def test_evaluate_logs_test_values_to_the_fits_run_at_the_training_step(wandb_dir):
    x, y = classification_data(n=64)
    model = compiled()
    callback = ks.callbacks.WandbCallback(log_freq=1, dir=wandb_dir)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[callback])
    results = model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[callback], return_dict=True)
    assert wandb.run is None  # the continued run is finished again after evaluate
    fit_run, eval_run = read_runs(wandb_dir)
    assert eval_run.run_id == fit_run.run_id  # one W&B run: evaluate continued the fit's
    (row,) = eval_run.rows_with("test/loss")
    assert row["test/loss"] == pytest.approx(results["loss"])
    assert row["test/accuracy"] == pytest.approx(results["accuracy"])
    assert row["batch/step"] == 8 == model.optimizer_steps  # vs the training step, as Keras does
    assert eval_run.summary["test/loss"] == pytest.approx(results["loss"])
    assert eval_run.metrics["test/*"]["step_metric"] == "batch/step"


def test_staged_fits_with_one_callback_continue_one_run_and_its_steps(wandb_dir):
    x, y = classification_data(n=64)
    model = compiled()
    callback = ks.callbacks.WandbCallback(log_freq=2, dir=wandb_dir)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[callback])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # its own epochs=2 is updated, not reported as a mismatch
        model.fit(x, y, batch_size=16, epochs=4, initial_epoch=2, verbose=0, callbacks=[callback])
    first, second = read_runs(wandb_dir)
    assert first.run_id == second.run_id and first.exit_code == second.exit_code == 0
    assert [row["epoch"] for row in first.rows_with("epoch")] == [0, 1]
    assert [row["epoch"] for row in second.rows_with("epoch")] == [2, 3]
    assert batch_steps(first) == [2, 4, 6, 8] and batch_steps(second) == [10, 12, 14, 16]
    assert first.config["epochs"] == 2 and second.config["epochs"] == 4
    assert second.config["optimizer"] == "SGD"  # offline resume starts with an empty config


def test_a_resumed_fit_continues_the_same_run_and_its_steps(wandb_dir, tmp_path):
    x, y = classification_data(n=48)  # 3 batches of 16 per epoch
    backup = tmp_path / "backup"

    def attempt(crash_at=None):
        torch.manual_seed(0)
        callbacks = [ks.callbacks.BackupAndRestore(backup, save_freq=2),  # first: restores first
                     ks.callbacks.WandbCallback(log_freq=1, dir=wandb_dir)]
        callbacks += [Crash(crash_at)] if crash_at else []
        compiled().fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=callbacks)

    with pytest.raises(RuntimeError, match="job killed"):
        attempt(crash_at=5)  # in epoch 1; the backup holds batch 4
    attempt()
    crashed, resumed = read_runs(wandb_dir)
    assert resumed.run_id == crashed.run_id
    assert crashed.exit_code == 1 and resumed.exit_code == 0
    assert batch_steps(crashed) == [1, 2, 3, 4, 5]
    assert batch_steps(resumed) == [5, 6, 7, 8, 9]  # from the backup on, not from 1
    assert [row["epoch"] for row in resumed.rows_with("epoch")] == [1, 2]


def test_a_failing_fit_finishes_its_run_as_failed_and_the_next_fit_starts_a_new_one(wandb_dir):
    x, y = classification_data(n=64)
    model = compiled()
    callback = ks.callbacks.WandbCallback(log_freq=1, dir=wandb_dir)
    with pytest.raises(RuntimeError, match="job killed"):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[callback, Crash(3)])
    assert wandb.run is None
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    failed, fresh = read_runs(wandb_dir)
    assert failed.exit_code == 1 and fresh.exit_code == 0
    assert fresh.run_id != failed.run_id
    assert batch_steps(failed) == [1, 2, 3]
    assert len(fresh.rows_with("epoch")) == 1


def test_a_wandb_failure_leaves_no_stale_run_for_the_next_callback(wandb_dir, monkeypatch):
    real_log = wandb.sdk.wandb_run.Run.log

    def failing_log(self, data, *args, **kwargs):
        if "batch/step" in data and data["batch/step"] == 3:
            raise ConnectionError("W&B went away")
        return real_log(self, data, *args, **kwargs)

    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "log", failing_log)
    x, y = classification_data(n=64)
    model = compiled()
    with pytest.warns(RuntimeWarning, match="W&B went away"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0,
                  callbacks=[ks.callbacks.WandbCallback(name="first", log_freq=1, dir=wandb_dir)])
    assert wandb.run is None
    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "log", real_log)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[ks.callbacks.WandbCallback(name="second", dir=wandb_dir)])
    first, second = read_runs(wandb_dir)
    assert (first.name, first.exit_code, batch_steps(first)) == ("first", 1, [1, 2])
    assert (second.name, second.exit_code) == ("second", 0)
    assert second.run_id != first.run_id and len(second.rows_with("epoch")) == 1


def test_every_key_of_a_sweep_config_that_training_does_not_use_warns(wandb_dir):
    x, y = classification_data(n=64)
    sweep = {"lr": 0.1, "optimizer": "adam", "batch_size": 32, "epochs": 3, "momentum": 0.9,
             "loss": "cross_entropy"}
    run = wandb.init(project="kerasish-tests", config=sweep, dir=wandb_dir)  # as a sweep agent's
    net = mlp()
    model = ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=0.01),
                                                "cross_entropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[ks.callbacks.WandbCallback()])
    messages = [str(w.message) for w in caught if "WandbCallback: the run's config" in str(w.message)]
    mismatched = sorted(m.split("config has ")[1].split("=")[0] for m in messages)
    assert mismatched == ["batch_size", "epochs", "lr", "momentum", "optimizer"]  # loss agrees
    assert any("lr=0.1, but training uses learning_rate=0.01" in m for m in messages)
    run.finish()
    logged = read_run(wandb_dir)
    assert {k: logged.config[k] for k in sweep} == sweep  # the sweep's values are left as they are
    assert logged.config["learning_rate"] == pytest.approx(0.01)  # what training used, added


def test_a_monitor_missing_from_the_logs_warns_once_with_the_available_keys(wandb_dir):
    x, y = classification_data(n=64)
    with pytest.warns(UserWarning, match=r"monitor 'val_acc' is not in the logs.*\['accuracy', "
                                         r"'loss'\]") as caught:
        compiled().fit(x, y, batch_size=32, epochs=3, verbose=0,
                       callbacks=[ks.callbacks.WandbCallback(dir=wandb_dir, monitor="val_acc")])
    assert len([w for w in caught if "WandbCallback" in str(w.message)]) == 1
    assert "best_val_acc" not in read_run(wandb_dir).summary
