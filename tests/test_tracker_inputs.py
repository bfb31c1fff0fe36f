"""Trackers of issue 26: values that are not numbers, several param groups, W&B's own watch.

Read back from the files the trackers write: TensorBoard's event files with TensorBoard's reader,
W&B's offline run file with ``tests/wandb_reader.py``.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import wandb
from tensorboard.backend.event_processing import event_accumulator

import kerasish as ks

from helpers import classification_data, mlp
from wandb_reader import read_run


@pytest.fixture
def wandb_dir(tmp_path):
    yield tmp_path / "wandb"
    if wandb.run is not None:
        wandb.run.finish()


def scalars(log_dir, tag):
    reader = event_accumulator.EventAccumulator(str(log_dir), size_guidance={
        kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE})
    reader.Reload()
    return {e.step: e.value for e in reader.Scalars(tag)}


class Notes(ks.callbacks.Callback):
    """Puts a string into every batch and epoch log, as a user's callback may."""

    def on_train_batch_end(self, batch, logs=None):
        logs["phase"] = "warmup"

    def on_epoch_end(self, epoch, logs=None):
        logs["note"] = f"epoch {epoch}"
        logs["several"] = torch.ones(3)


def test_values_that_are_not_numbers_neither_stop_fit_nor_silence_the_trackers(tmp_path, wandb_dir):
    x, y = classification_data(n=64)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "stopped logging/writing" warning
        history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[
            Notes(), ks.callbacks.TensorBoard(tmp_path / "tb", update_freq=1),
            ks.callbacks.WandbCallback(dir=wandb_dir, log_freq=1, monitor="loss")])
    losses = history.history["loss"]
    assert scalars(tmp_path / "tb" / "train", "epoch_loss") == pytest.approx(dict(enumerate(losses)))
    assert sorted(scalars(tmp_path / "tb" / "train", "batch_loss")) == list(range(1, 13))
    run = read_run(wandb_dir)
    assert run.exit_code == 0
    rows = run.rows_with("epoch")
    assert [row["loss"] for row in rows] == pytest.approx(losses)
    assert not any("note" in row or "several" in row for row in rows)
    assert [row["batch/step"] for row in run.rows_with("batch/loss")] == list(range(1, 13))


def two_group_model():
    net = mlp()
    optimizer = torch.optim.SGD([{"params": net[0].parameters(), "lr": 0.1},
                                 {"params": net[2].parameters(), "lr": 0.01}])
    return ks.Model(net).compile(optimizer, "cross_entropy")


def test_wandb_logs_one_learning_rate_per_param_group(wandb_dir):
    x, y = classification_data(n=32)
    two_group_model().fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[
        ks.callbacks.WandbCallback(dir=wandb_dir, log_freq=1, monitor="loss")])
    run = read_run(wandb_dir)
    rows = run.rows_with("epoch")
    assert [(r["learning_rate/group_0"], r["learning_rate/group_1"]) for r in rows] == \
        pytest.approx([(0.1, 0.01)] * 2)
    assert not any("learning_rate" in row for row in rows)  # no group left to stand for all
    batches = run.rows_with("batch/loss")
    assert [r["batch/learning_rate/group_1"] for r in batches] == pytest.approx([0.01] * 4)


def test_wandb_logs_learning_rate_for_one_group(wandb_dir):
    x, y = classification_data(n=32)
    net = mlp()
    ks.Model(net).compile(torch.optim.SGD(net.parameters(), lr=0.05), "cross_entropy").fit(
        x, y, batch_size=16, epochs=1, verbose=0,
        callbacks=[ks.callbacks.WandbCallback(dir=wandb_dir, monitor="loss")])
    row, = read_run(wandb_dir).rows_with("epoch")
    assert row["learning_rate"] == pytest.approx(0.05)
    assert not any(key.startswith("learning_rate/") for key in row)


def test_wandb_watch_of_the_module_logs_gradients_at_its_log_freq_during_fit(wandb_dir):
    x, y = classification_data(n=96)  # 6 batches of 16 per epoch, 12 in all
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    run = wandb.init(dir=wandb_dir, project="kerasish-tests")
    run.watch(model.module, log="gradients", log_freq=3)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[ks.callbacks.WandbCallback(run=run, monitor="loss")])
    run.finish()
    logged = read_run(wandb_dir)
    # wandb names the histograms "gradients/0.weight", or "gradients/graph_<n>0.weight" when the
    # process watched a module before (another test): match either.
    key = next(k for row in logged.history for k in row
               if k.startswith("gradients/") and k.endswith("0.weight"))
    rows = logged.rows_with(key)
    assert [row["batch/step"] for row in rows] == [3, 6, 9, 12]  # not one row per epoch
    assert all(row[key]["_type"] == "histogram" for row in rows)
    assert [row["epoch"] for row in logged.rows_with("epoch")] == [0, 1]


def test_wandb_watch_of_the_model_itself_logs_its_parameters_and_gradients(wandb_dir):
    """``run.watch(model)`` on a ``ks.Model`` (it is a torch module, as a Keras model is on torch):
    gradient and parameter histograms of every parameter, under the model's parameter names."""
    x, y = classification_data(n=96)  # 6 batches of 16 per epoch, 12 in all
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    run = wandb.init(dir=wandb_dir, project="kerasish-tests")
    run.watch(model, log="all", log_freq=3)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[ks.callbacks.WandbCallback(run=run, monitor="loss")])
    run.finish()
    logged = read_run(wandb_dir)
    names = [name for name, _ in model.named_parameters()]
    assert names[0] == "module.0.weight"
    for kind in ("gradients", "parameters"):
        # "graph_<n>" prefixes the names when the process watched a module before (another test).
        keys = {k for row in logged.history for k in row if k.startswith(f"{kind}/")}
        assert {k.split("/", 1)[1].split("module.", 1)[1] for k in keys} == {
            name.removeprefix("module.") for name in names}
        key = next(iter(keys))
        assert [row["batch/step"] for row in logged.rows_with(key)] == [3, 6, 9, 12]
